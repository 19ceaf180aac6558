// Package categorical turns string (categorical) features into the numbers
// the built-in learners read: a Vocabulary learned on the training rows
// gives each category an integer code, an Encoding says how a learner sees
// the code (one column per category for linear models, the code itself for
// trees), and Model wraps a learner's model trained on the encoded columns
// so that it reads rows of codes, one value per original feature.
package categorical
