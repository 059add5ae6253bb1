var items = new List<string>();
foreach (var h in context.Request.Headers)
{
    yield return h.Key;
}
