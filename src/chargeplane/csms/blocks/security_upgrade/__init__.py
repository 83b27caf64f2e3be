"""A05 on the CSMS side: a station's recorded security profile is raised after an upgrade, never lowered."""
