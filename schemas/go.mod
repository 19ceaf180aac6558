module github.com/tributary-ml/tributary/schemas

go 1.26
