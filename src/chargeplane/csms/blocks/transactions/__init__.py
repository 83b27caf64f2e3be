"""The transactions block (see chargeplane.csms.blocks.BLOCKS)."""
