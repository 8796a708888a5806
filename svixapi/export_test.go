package svixapi

// StrictSDK is strictSDK, for the table test.
var StrictSDK = strictSDK
