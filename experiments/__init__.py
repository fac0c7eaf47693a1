"""Named training recipes: `get_experiment(name)`, `list_experiments()`, `Experiment`."""
from experiments import recipes  # noqa: F401  (registers the recipes)
from experiments.config import (AUGMENT_ENGINES, OPTIMIZERS, PRECISIONS, SCHEDULES,  # noqa: F401
                                 Experiment, get_experiment, list_experiments, recipe_differences,
                                 register_experiment)
