module github.com/tributary-ml/tributary/cli

go 1.26
