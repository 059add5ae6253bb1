JObject finalResponse = new JObject();
int finalStatus = 200;
void ParseBody(JObject element, string propertyName, IResponse response){
    string body = "";
    if(response!=null){
        body = response.Body.As<string>();
        try{
            var jsonBody = JToken.Parse(body);
            element.Add(propertyName, jsonBody);
        }
        catch(Exception ex){
            element.Add(propertyName, body);
        }
    }
}
JObject PrepareResponse(string name){
    JObject element = new JObject();
    IResponse response = context.Variables.GetValueOrDefault<IResponse>(name);
    if(response == null){
        finalStatus = 207;
        return element;
    }
    ParseBody(element, "body", response);
    return element;
}
JArray all = new JArray();
all.Add(PrepareResponse("operation1"));
finalResponse.Add("body", all);
finalResponse.Add("status", finalStatus);
return finalResponse;
