"""``chargeplane conformance``: the test cases of OCPP 2.0.1 Part 6, runnable against any CSMS (and, later,
any charging station).

Module map:

* :mod:`.case` - the :class:`~.case.TestCase` declaration, the ``@case`` decorator and the registry;
* :mod:`.checks` - step failures and field rules on wire names;
* :mod:`.steps` - the tool playing the charging station (connect, send CALLs, expect the CSMS's CALLs);
* :mod:`.messages` - builders of the messages the tool sends, and its transaction bookkeeping;
* :mod:`.states` - the reusable states (Booted, Authorized, EnergyTransferStarted, ...);
* :mod:`.adapter` - the manual actions asked of the CSMS: Chargeplane's HTTP API or a person at a terminal;
* :mod:`.declaration` - the implementation's declaration file (optional features, configured values,
  expected failures);
* :mod:`.runner` - selects, runs and times cases; :mod:`.report` - console lines, JUnit XML, JSON;
* :mod:`.commands` - the ``chargeplane conformance`` command;
* ``cases/csms/`` - the CSMS test cases, one module per functional block, found automatically.
"""
