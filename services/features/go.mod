module github.com/tributary-ml/tributary/services/features

go 1.26
