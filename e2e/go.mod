module github.com/tributary-ml/tributary/e2e

go 1.26
