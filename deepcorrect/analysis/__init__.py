"""Analyses on top of the measurements: t-SNE (Fig. 2), with statistics and transfer to follow."""
