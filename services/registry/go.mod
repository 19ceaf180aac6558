module github.com/tributary-ml/tributary/services/registry

go 1.26
