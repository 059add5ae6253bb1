var log = "";
try
{
    var token = JObject.Parse(context.Request.Body.As<string>(preserveContent: true));
    return (string)token["access_token"];
}
catch (JsonReaderException e)
{
    log = e.Message;
    throw;
}
catch (Exception)
{
    return null;
}
finally
{
    log += ";done";
}
