"""The edges: the command line (:mod:`.cli`), reports and figures (:mod:`.report`), the trainer
dashboard (:mod:`.app`) and run directories with atomic writes (:mod:`.outputs`).

Only the edges read arguments, print, plot or write files; the model and the studies
are called from here and never import this package (except :mod:`.outputs`, a leaf).
"""
