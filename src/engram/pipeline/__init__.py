"""The add pipeline: extract facts, reconcile them with what is stored, summarise agent runs."""
