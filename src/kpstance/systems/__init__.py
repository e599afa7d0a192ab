"""Systems: every model the project scores (majority, rules, TF-IDF, SetFit, the fine-tuned encoder)
behind one ``System`` interface, plus the encoder, the fine-tuning loop, the predictor and model folders.
"""
