"""``chargeplane conformance``: the test cases of OCPP 2.0.1 Part 6, runnable against any CSMS and any
charging station.

Module map:

* :mod:`.case` - the :class:`~.case.TestCase` declaration, the ``@case`` decorator and the registry;
* :mod:`.checks` - step failures and field rules on wire names;
* :mod:`.steps` - the tool playing the charging station (connect, send CALLs, expect the CSMS's CALLs);
* :mod:`.messages` - builders of the messages the tool sends, and its transaction bookkeeping;
* :mod:`.states` - the reusable states (Booted, Authorized, EnergyTransferStarted, ...);
* :mod:`.adapter` - the manual actions asked of the CSMS: Chargeplane's HTTP API or a person at a terminal;
* :mod:`.station_steps` - the tool playing the CSMS (listen, queue the station's CALLs, default answers);
* :mod:`.station_states` - the charging-station side's reusable states; :mod:`.station_adapter` - the manual
  actions at a station under test (a person; the tests drive our own station);
* :mod:`.declaration` - the implementation's declaration file (optional features, configured values,
  expected failures);
* :mod:`.runner` - selects, runs and times cases; :mod:`.report` - console lines, JUnit XML, JSON;
* :mod:`.commands` - the ``chargeplane conformance`` command;
* ``cases/csms/``, ``cases/cs/`` - the CSMS and charging-station test cases, one module per functional block,
  found automatically.
"""
