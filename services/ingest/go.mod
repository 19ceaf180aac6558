module github.com/tributary-ml/tributary/services/ingest

go 1.26
