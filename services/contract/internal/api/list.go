package api

import (
	contractv1 "github.com/jiayuan/jiayuan/gen/jiayuan/contract/v1"
	"github.com/jiayuan/jiayuan/platform/aip"
	"github.com/jiayuan/jiayuan/services/contract/internal/store"
)

func storeListParams(req *contractv1.ListContractsRequest, sc store.Scope) store.ListParams {
	return store.ListParams{
		Filter: req.GetFilter(), PageToken: req.GetPageToken(), Scope: sc,
		PageSize: aip.PageSize(req.GetPageSize(), defaultPageSize, maxPageSize),
	}
}
