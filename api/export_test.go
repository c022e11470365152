package api

import "github.com/gin-gonic/gin"

// Internal helpers exposed to the package's external tests.
var (
	EncodeCursor     = encodeCursor
	DecodeCursor     = decodeCursor
	AppendCellObject = appendCellObject
	CRSRoutes        = crsRoutes
)

// HandlePanicForTest registers GET path on s's engine with a handler that panics, behind the
// same chain as every route, so that tests can see a panic recovered, logged and counted.
func (s *Server) HandlePanicForTest(path string) {
	s.engine.GET(path, func(*gin.Context) { panic("test panic") })
	s.metrics.addRoute(path)
}

// ChainForTest is the engine's middleware chain, outermost first.
func (s *Server) ChainForTest() gin.HandlersChain { return s.engine.Handlers }
