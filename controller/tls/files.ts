// Where the controller's TLS material lives in its data folder. Apart from the
// certificate code so that a CLI command reading ca.pem loads no X.509 library.
export const CA_FILE = 'ca.pem';
export const TLS_DIR = 'tls';
