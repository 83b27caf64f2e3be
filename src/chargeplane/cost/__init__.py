"""Tariffs and cost, shared by the station and the CSMS (block I; 2.1 local cost calculation): the tariff
model, the cost engine and the conversions from the 2.1 wire types. Sans-I/O and pure."""
