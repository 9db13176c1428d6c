"""What a plate is: issuing regions and their serial formats, letter/digit masks and format
fitting, OCR confusion groups and plate-text normalisation.

The bottom layer: every other package may import it, it imports nothing of the project and
nothing outside the standard library, so the unit, the guardrails and the lab share one
definition. Import from the modules (`edge.plates.regions`, `.masks`, `.confusions`, `.text`).
"""
