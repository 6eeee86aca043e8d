-- Long lists at 20,000 models: a model's status asks whether the LiteLLM snapshot holds its
-- deployment, and the LiteLLM page asks which model owns each deployment. Without these, each
-- question scans the other table once per row shown.
CREATE INDEX litellm_entries_litellm_id ON litellm_entries (litellm_id, owned);
CREATE INDEX models_litellm_model_id ON models (litellm_model_id);
-- The LiteLLM list's sort keys (its position is the rowid) without reading every entry's JSON.
CREATE INDEX litellm_entries_model_name ON litellm_entries (model_name, litellm_id);
