module github.com/tributary-ml/tributary/services/trainer

go 1.26
