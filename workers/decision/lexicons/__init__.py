"""Word lists the detectors score with: plain, general English, written for this project.

They are Python modules rather than data files so they ship with the package and load with no
file access. Each list is a whitespace-separated string split once at import.
"""
