"""A reference model of the contract and a Hypothesis state machine that explores the use cases with it.

``reference`` predicts every answer from the contract's rules over plain values; ``machine`` drives
the real use cases (wired by otp.bootstrap) step by step and holds them to those predictions and to
invariants read from what was observed alone.
"""
