module github.com/socialsync/socialsync/proto

go 1.26.8

require google.golang.org/protobuf v1.36.12

require github.com/google/go-cmp v0.7.0
