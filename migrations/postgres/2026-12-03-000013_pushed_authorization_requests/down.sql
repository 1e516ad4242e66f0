DROP TABLE provider_pushed_requests;
