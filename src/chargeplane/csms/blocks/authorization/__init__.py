"""The authorization block (see chargeplane.csms.blocks.BLOCKS)."""
