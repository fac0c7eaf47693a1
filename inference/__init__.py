"""Predictions for image files: `load_image` (any size and format Pillow reads) and `top_k`."""
from inference.predict import MAX_PIXELS, load_image, predict_files, top_k  # noqa: F401
