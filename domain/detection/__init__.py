"""Event detection (事件探测): rules that watch behaviour and open alerts."""
