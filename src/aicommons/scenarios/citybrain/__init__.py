"""City Brain: adaptive traffic-signal control on SUMO with real Hangzhou and Jinan networks."""
