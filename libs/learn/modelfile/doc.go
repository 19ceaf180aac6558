// Package modelfile reads and writes the model file of Tributary's built-in
// learners: one versioned JSON document that every built-in model uses, so
// the trainer saves and serving and batch scoring load models in one way.
// The format is described in libs/learn/README.md.
package modelfile
