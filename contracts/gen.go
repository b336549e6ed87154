package contracts

// Regenerate the compiled artifacts and the Go bindings after editing src/*.sol:
//
//	go generate ./contracts/
//
// It needs node, npm (for the pinned solc in package-lock.json) and the Go module
// proxy once (abigen is fetched into the module cache). Commit build/ and bindings/.

//go:generate npm ci --silent --no-audit --no-fund
//go:generate node compile.js
//go:generate go run github.com/ethereum/go-ethereum/cmd/abigen@v1.17.10 --v2 --combined-json build/combined.json --pkg bindings --out bindings/bindings.go
