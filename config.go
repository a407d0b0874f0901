package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/slack-go/slack"
)

// config is serve's environment, read by loadConfig.
type config struct {
	BotToken      string // SLACK_BOT_TOKEN
	SigningSecret string // SLACK_SIGNING_SECRET
	AppToken      string // SLACK_APP_TOKEN: Socket Mode when set
	APIURL        string // SLACK_API_URL, with a trailing slash
	PolicyPath    string // GATEPASS_CONFIG
	DB            string // GATEPASS_DB
	Addr          string // GATEPASS_ADDR
	LogLevel      slog.Level
	LogJSON       bool // GATEPASS_LOG_FORMAT=json
}

// loadConfig reads the environment. Every problem is reported, each naming
// its variable. An empty variable counts as unset.
func loadConfig(getenv func(string) string) (config, error) {
	get := func(k, def string) string {
		if v := strings.TrimSpace(getenv(k)); v != "" {
			return v
		}
		return def
	}
	c := config{
		BotToken:      get("SLACK_BOT_TOKEN", ""),
		SigningSecret: get("SLACK_SIGNING_SECRET", ""),
		AppToken:      get("SLACK_APP_TOKEN", ""),
		APIURL:        get("SLACK_API_URL", slack.APIURL),
		PolicyPath:    get("GATEPASS_CONFIG", "./gatepass.yml"),
		DB:            get("GATEPASS_DB", "./gatepass.db"),
		Addr:          get("GATEPASS_ADDR", ":8080"),
	}
	var errs []error
	switch {
	case c.BotToken == "":
		errs = append(errs, errors.New("SLACK_BOT_TOKEN is not set: give the bot token (xoxb-…) from the Slack app's OAuth page"))
	case !strings.HasPrefix(c.BotToken, "xoxb-"):
		errs = append(errs, errors.New("SLACK_BOT_TOKEN is not a bot token: it must start with xoxb-"))
	}
	if c.AppToken != "" && !strings.HasPrefix(c.AppToken, "xapp-") {
		errs = append(errs, errors.New("SLACK_APP_TOKEN is not an app-level token: it must start with xapp- (leave it unset to receive Slack over HTTP)"))
	}
	if c.SigningSecret == "" && c.AppToken == "" {
		errs = append(errs, errors.New("SLACK_SIGNING_SECRET is not set: it is needed to verify Slack's requests (or set SLACK_APP_TOKEN to use Socket Mode)"))
	}
	if u, err := url.Parse(c.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("SLACK_API_URL %q is not an http(s) URL", c.APIURL))
	} else if !strings.HasSuffix(c.APIURL, "/") {
		c.APIURL += "/"
	}
	switch strings.ToLower(get("GATEPASS_LOG_LEVEL", "info")) {
	case "debug":
		c.LogLevel = slog.LevelDebug
	case "info":
		c.LogLevel = slog.LevelInfo
	case "warn", "warning":
		c.LogLevel = slog.LevelWarn
	case "error":
		c.LogLevel = slog.LevelError
	default:
		errs = append(errs, fmt.Errorf("GATEPASS_LOG_LEVEL %q is not one of debug, info, warn, error", getenv("GATEPASS_LOG_LEVEL")))
	}
	switch strings.ToLower(get("GATEPASS_LOG_FORMAT", "text")) {
	case "text":
	case "json":
		c.LogJSON = true
	default:
		errs = append(errs, fmt.Errorf("GATEPASS_LOG_FORMAT %q is not text or json", getenv("GATEPASS_LOG_FORMAT")))
	}
	return c, errors.Join(errs...)
}
