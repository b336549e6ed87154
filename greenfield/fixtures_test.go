package greenfield_test

// Greenfield response shapes the tests parse responses into, transcribed from BTCPay
// Server's published OpenAPI description (BTCPayServer/wwwroot/swagger/v1/
// swagger.template.{invoices,webhooks,api-keys,stores,serverinfo}.json) and from the fields
// the PHP client (btcpayserver/btcpayserver-greenfield-php, src/Result/*) and the
// WooCommerce plugin (btcpayserver/woocommerce-greenfield-plugin) read. The Go types carry
// the JSON types: a string field fails to decode from a number, so a response with the
// wrong types fails the test. Only the fields a plugin relies on are listed.

// ApiKeyData (api-keys/current).
type gfAPIKey struct {
	APIKey      string   `json:"apiKey"`
	Label       string   `json:"label"`
	Permissions []string `json:"permissions"`
}

// ServerInfoData (server/info): the plugin reads version and fullySynched.
type gfServerInfo struct {
	Version                 string   `json:"version"`
	FullySynched            bool     `json:"fullySynched"`
	SupportedPaymentMethods []string `json:"supportedPaymentMethods"`
}

// StoreData (stores): the plugin's checkApiKeyWorks needs a non-empty list.
type gfStore struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// GenericPaymentMethodData (stores/{id}/payment-methods, BTCPay 2.0 list shape): the PHP
// client's StorePaymentMethodCollection reads paymentMethodId and enabled.
type gfStorePaymentMethod struct {
	PaymentMethodID string `json:"paymentMethodId"`
	Enabled         bool   `json:"enabled"`
}

// InvoiceData.
type gfInvoice struct {
	ID                                string         `json:"id"`
	StoreID                           string         `json:"storeId"`
	Amount                            string         `json:"amount"`
	Currency                          string         `json:"currency"`
	Type                              string         `json:"type"`
	CheckoutLink                      string         `json:"checkoutLink"`
	CreatedTime                       int64          `json:"createdTime"`
	ExpirationTime                    int64          `json:"expirationTime"`
	MonitoringExpiration              int64          `json:"monitoringExpiration"`
	Status                            string         `json:"status"`
	AdditionalStatus                  string         `json:"additionalStatus"`
	AvailableStatusesForManualMarking []string       `json:"availableStatusesForManualMarking"`
	Archived                          bool           `json:"archived"`
	Metadata                          map[string]any `json:"metadata"`
	Checkout                          struct {
		SpeedPolicy       *string  `json:"speedPolicy"`
		PaymentMethods    []string `json:"paymentMethods"`
		ExpirationMinutes int64    `json:"expirationMinutes"`
		MonitoringMinutes int64    `json:"monitoringMinutes"`
		PaymentTolerance  float64  `json:"paymentTolerance"`
		RedirectURL       *string  `json:"redirectURL"`
	} `json:"checkout"`
}

// Payment (in InvoicePaymentMethodDataModel and webhook events).
type gfPayment struct {
	ID           string `json:"id"`
	ReceivedDate int64  `json:"receivedDate"`
	Value        string `json:"value"`
	Fee          string `json:"fee"`
	Status       string `json:"status"`
	Destination  string `json:"destination"`
}

// InvoicePaymentMethodDataModel; the plugin's updateWCOrderPayments reads paymentMethod,
// paymentMethodPaid, totalPaid, amount, due, networkFee, rate and the payments.
type gfInvoicePaymentMethod struct {
	PaymentMethod     string      `json:"paymentMethod"`
	PaymentMethodID   string      `json:"paymentMethodId"`
	CryptoCode        string      `json:"cryptoCode"`
	Destination       string      `json:"destination"`
	PaymentLink       string      `json:"paymentLink"`
	Rate              string      `json:"rate"`
	PaymentMethodPaid string      `json:"paymentMethodPaid"`
	TotalPaid         string      `json:"totalPaid"`
	Due               string      `json:"due"`
	Amount            string      `json:"amount"`
	NetworkFee        string      `json:"networkFee"`
	Payments          []gfPayment `json:"payments"`
	Activated         bool        `json:"activated"`
}

// WebhookDataCreate / WebhookData.
type gfWebhook struct {
	ID                  string `json:"id"`
	Enabled             bool   `json:"enabled"`
	AutomaticRedelivery bool   `json:"automaticRedelivery"`
	URL                 string `json:"url"`
	Secret              string `json:"secret"`
	AuthorizedEvents    struct {
		Everything     bool     `json:"everything"`
		SpecificEvents []string `json:"specificEvents"`
	} `json:"authorizedEvents"`
}

// WebhookInvoiceEvent and its subtypes (the fields the plugin's processOrderStatus reads).
type gfEvent struct {
	DeliveryID         string         `json:"deliveryId"`
	WebhookID          string         `json:"webhookId"`
	OriginalDeliveryID string         `json:"originalDeliveryId"`
	IsRedelivery       bool           `json:"isRedelivery"`
	Type               string         `json:"type"`
	Timestamp          int64          `json:"timestamp"`
	StoreID            string         `json:"storeId"`
	InvoiceID          string         `json:"invoiceId"`
	Metadata           map[string]any `json:"metadata"`
	AfterExpiration    *bool          `json:"afterExpiration"`
	PaymentMethodID    *string        `json:"paymentMethodId"`
	Payment            *gfPayment     `json:"payment"`
	OverPaid           *bool          `json:"overPaid"`
	ManuallyMarked     *bool          `json:"manuallyMarked"`
	PartiallyPaid      *bool          `json:"partiallyPaid"`
}

// ProblemDetails and ValidationProblemDetails.
type gfProblem struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

type gfFieldError struct {
	Path    string `json:"path"`
	Message string `json:"message"`
}

// gfPullPayment is Greenfield's PullPaymentData (swagger-template.pull-payments.json), the
// fields the PHP client's Result\PullPayment reads and the rest of the schema.
type gfPullPayment struct {
	ID                string   `json:"id"`
	Name              string   `json:"name"`
	Description       string   `json:"description"`
	Currency          string   `json:"currency"`
	Amount            string   `json:"amount"`
	Period            *int64   `json:"period"`
	BOLT11Expiration  string   `json:"BOLT11Expiration"`
	AutoApproveClaims bool     `json:"autoApproveClaims"`
	Archived          bool     `json:"archived"`
	ViewLink          string   `json:"viewLink"`
	StartsAt          int64    `json:"startsAt"`
	ExpiresAt         *int64   `json:"expiresAt"`
	PaymentMethods    []string `json:"paymentMethods"`
}

// gfPayout is Greenfield's PayoutData (swagger-template.pull-payments.json): the 2.0 names
// and the older ones the PHP client's Result\PullPaymentPayout reads.
type gfPayout struct {
	ID                  string `json:"id"`
	Revision            int64  `json:"revision"`
	PullPaymentID       string `json:"pullPaymentId"`
	Date                int64  `json:"date"`
	Destination         string `json:"destination"`
	OriginalAmount      string `json:"originalAmount"`
	OriginalCurrency    string `json:"originalCurrency"`
	PayoutAmount        string `json:"payoutAmount"`
	PayoutCurrency      string `json:"payoutCurrency"`
	PayoutMethodID      string `json:"payoutMethodId"`
	Amount              string `json:"amount"`
	PaymentMethod       string `json:"paymentMethod"`
	CryptoCode          string `json:"cryptoCode"`
	PaymentMethodAmount string `json:"paymentMethodAmount"`
	State               string `json:"state"`
}
