module github.com/tributary-ml/tributary/services/monitor

go 1.26
