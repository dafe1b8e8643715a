module github.com/socialsync/socialsync/services/socialsync

go 1.26.8

replace (
	github.com/socialsync/socialsync/pkg => ../../pkg
	github.com/socialsync/socialsync/proto => ../../proto
)
