"""Fidelity: record the real vendor through a proxy, replay the recordings, and report where the
emulator and the vendor drift apart (README, "Checking the emulator against the real vendor").

`har` is the recording format and its masking, `record` the pass-through proxy, `replay` the
answers from recordings that `serve --replay` gives, `drift` the comparison, `cli` the commands.
"""
