"""Synthetic, labelled plates, street scenes and video: training data, test truth, the demo clip.

formats (serials and letter rules) -> designs + fonts -> plates (faces and crops)
-> scenes (plates on vehicles in streets) -> video (vehicles passing a fixed camera).
"""
