"""``escalator eval``: the decision core measured on public labelled data, beside baselines.

The data lives outside the repository (``../shared/eval-data``); nothing of it is copied here.
"""
