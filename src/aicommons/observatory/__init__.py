"""The observatory: the government and operator side of the platform.

- `enterprises/`: the AI enterprise cultivation database (培育库), keyed by unified social credit code.
- `statistics/`: the policies' numeric targets, quarterly observations, progress and the annual
  regional comprehensive evaluation.
- `subsidies/`: the district subsidy rules of 002 三 and applications under them.
"""
