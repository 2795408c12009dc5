// Send the member straight on to PayPal; the button stays for browsers without JS.
document.getElementById("paypal").submit();
