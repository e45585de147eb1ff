"""Front ends other tools speak to: the OpenAI chat API (`openai_api`) and an MCP server (`mcp_server`).

Both answer through the same `Pipeline` as the chat, with the same input checks (`validation`)
and the same reply text (`reply`). Nothing here imports gradio; importing this package loads
nothing heavy.
"""
