"""Day 5: the same models in TensorFlow/Keras."""
