var forwardedPort = (string)context.Request.Headers.GetValueOrDefault("X-Forwarded-Port", "");
if (int.TryParse(forwardedPort, out var port) && port != 443)
{
    return $"https://gw:{port}/callback";
}
else if (context.Variables.TryGetValue("fallback", out object fallback))
{
    return (string)fallback;
}
return "https://gw/callback";
