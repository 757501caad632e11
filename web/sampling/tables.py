"""Staggered sampling: sites and the slots generated for each micro-grid."""
