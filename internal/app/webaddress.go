package app

import (
	"net"
	"net/url"
	"strings"
)

// WebURL is the admin UI's address as people reach it, for links in
// mail that must work (a password reset): [http] public_url, else the
// listener's own address: https with tls_cert, else http, and the host
// of listen (hostname when listen's host is unspecified); "" without
// either. It is never taken from a request's Host field, which whoever
// asks for a reset link could set to their own host.
func (c *Config) WebURL() string {
	if c.HTTP.PublicURL != "" {
		return strings.TrimSuffix(c.HTTP.PublicURL, "/")
	}
	host, port, err := net.SplitHostPort(c.HTTP.Listen)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = c.Hostname
		if host == "" {
			host = "localhost"
		}
	}
	scheme := "http"
	if c.HTTP.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// MailSender is the From field of mail that Sealpost sends in no list's
// name (a password reset for an account without a list): postmaster at
// hostname, else at the host of WebURL when that is a name, else at
// localhost. RFC 5321 §4.5.1: every mail domain has a postmaster.
func (c *Config) MailSender() string {
	domain := c.Hostname
	if domain == "" {
		if u, err := url.Parse(c.WebURL()); err == nil && u.Hostname() != "" && net.ParseIP(u.Hostname()) == nil {
			domain = u.Hostname()
		}
	}
	if domain == "" {
		domain = "localhost"
	}
	return "Sealpost <postmaster@" + domain + ">"
}
