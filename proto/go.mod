module github.com/socialsync/socialsync/proto

go 1.26.8
