"""Application scenarios built on the platform: real simulators, real data, measured against the literature."""
