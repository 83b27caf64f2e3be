"""Smart charging rules shared by the station and the CSMS (block K; 1.6 Smart Charging): the profile model,
the composite-schedule engine and the conversions from each version's wire types. Sans-I/O and pure."""
