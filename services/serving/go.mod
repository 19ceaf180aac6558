module github.com/tributary-ml/tributary/services/serving

go 1.26
